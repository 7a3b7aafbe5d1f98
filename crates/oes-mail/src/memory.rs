use std::sync::{Arc, Mutex, PoisonError};

use crate::Email;

/// One message recorded by the memory transport.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub email: Email,
    pub message_id: String,
    /// The full RFC 5322 message as it would have gone over the wire.
    pub raw: Vec<u8>,
}

/// A clonable handle on the messages a memory mailer has "sent", for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    sent: Arc<Mutex<Vec<SentEmail>>>,
}

impl MemoryOutbox {
    /// Every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<SentEmail> {
        self.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes and returns everything recorded so far.
    pub fn take(&self) -> Vec<SentEmail> {
        std::mem::take(&mut *self.lock())
    }

    pub(crate) fn record(&self, sent: SentEmail) {
        self.lock().push(sent);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SentEmail>> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
