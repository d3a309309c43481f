//! Cross-crate checks: the facade re-exports the same core types that providers implement.

use refund_core::{Capabilities, RefundProvider};

#[test]
fn core_trait_is_object_safe_through_the_facade() {
    fn takes(_: Option<std::sync::Arc<dyn RefundProvider>>) {}
    takes(None);
    assert!(!Capabilities::none().partial_refunds);
    // The facade re-exports the very same crate.
    let _: refund_facade::refund_core::Capabilities = Capabilities::none();
}
