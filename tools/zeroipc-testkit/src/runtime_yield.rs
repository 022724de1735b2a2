//! Yielding to the scheduler of a [`Runtime`](crate::Runtime), for async tests that let other
//! tasks run between their steps.

use crate::Runtime;

impl Runtime {
    /// Yields once to this runtime's scheduler.
    pub async fn yield_now(self) {
        match self {
            Runtime::Smol => smol::future::yield_now().await,
            Runtime::TokioCurrent | Runtime::TokioMulti => tokio::task::yield_now().await,
        }
    }
}
