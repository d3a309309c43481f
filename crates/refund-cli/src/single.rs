//! `refund create` and `refund status`: one refund through the facade.

use refund_facade::ClientOptions;
use refund_facade::refund_core::{
    Currency, Error, ErrorKind, Lookup, Money, PaymentId, RefundQuery, RefundReference,
    RefundRequest,
};

use crate::cli::{CreateArgs, OutputFormat, StatusArgs};
use crate::output::{RefundJson, print_error, print_refund};

/// `refund create`: one logical refund. Invalid input is refused before the configuration is
/// read and before any request.
pub(crate) async fn create(args: CreateArgs, options: &ClientOptions, format: OutputFormat) -> u8 {
    let reference = args.reference.clone().unwrap_or_else(random_reference);
    let result = async {
        let request = create_request(&args, &reference)?;
        let router = crate::router_for(args.provider, options)?;
        router.refund(&args.provider.id(), &request).await
    }
    .await;
    match result {
        Ok(outcome) => print_refund(
            format,
            &RefundJson::from_refund(&outcome.refund),
            args.reference.is_none(),
        ),
        Err(e) => print_error(format, &e, Some(&reference)),
    }
}

/// `refund status`: what the provider says about a refund (a lookup; nothing is sent).
pub(crate) async fn status(args: StatusArgs, options: &ClientOptions, format: OutputFormat) -> u8 {
    let result = async {
        let payment = PaymentId::new(args.payment.clone())?;
        let reference = RefundReference::new(args.reference.clone())?;
        let router = crate::router_for(args.provider, options)?;
        let query = RefundQuery::new(payment.clone(), reference.clone());
        match router.status(&args.provider.id(), &query).await? {
            Lookup::Found(refund) => Ok(refund),
            Lookup::Absent => Err(Error::new(
                ErrorKind::NotFound,
                format!("no refund with reference {reference} exists for payment {payment}"),
            )
            .with_provider(args.provider.id())),
            Lookup::Inconclusive(reason) => Err(Error::new(
                ErrorKind::OutcomeUnknown,
                format!(
                    "the provider's answer proves nothing either way ({reason}); try again later"
                ),
            )
            .with_provider(args.provider.id())),
            _ => Err(Error::new(
                ErrorKind::OutcomeUnknown,
                "the provider's answer is of a kind this version does not know; try again later",
            )
            .with_provider(args.provider.id())),
        }
    }
    .await;
    match result {
        Ok(refund) => print_refund(format, &RefundJson::from_refund(&refund), false),
        Err(e) => print_error(format, &e, Some(&args.reference)),
    }
}

fn create_request(args: &CreateArgs, reference: &str) -> Result<RefundRequest, Error> {
    let builder = RefundRequest::builder(
        PaymentId::new(args.payment.clone())?,
        RefundReference::new(reference)?,
    );
    let builder = match (&args.amount, &args.currency) {
        (Some(amount), Some(currency)) => {
            builder.partial(Money::parse(amount, Currency::from_code(currency)?)?)
        }
        (None, None) => builder,
        _ => return Err(Error::invalid_input("--amount and --currency go together")),
    };
    let builder = match &args.reason {
        Some(reason) => builder.reason(reason.clone()),
        None => builder,
    };
    builder.build()
}

/// A random reference for `create` without `--reference`: `rf-` and a UUID v4.
fn random_reference() -> String {
    format!("rf-{}", uuid::Uuid::new_v4())
}
