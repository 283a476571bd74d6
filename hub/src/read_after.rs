//! A value read from the database after a given moment, with one question in flight for every
//! caller waiting at that moment: what a read that must reflect every change committed before
//! it began needs to learn first (the primary's WAL position, the linkage journal's last row),
//! at a cost of one query per round trip whatever the load.

use std::future::Future;
use std::time::Instant;

/// The last answer to one question and when it was asked. A failure is shared the same way
/// as an answer: callers queued behind a database that does not answer fail together, not one
/// timeout after another.
pub struct ReadAfter<T> {
    last: tokio::sync::Mutex<Option<(Instant, Result<T, String>)>>,
}

impl<T> Default for ReadAfter<T> {
    fn default() -> Self {
        ReadAfter {
            last: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T: Clone> ReadAfter<T> {
    /// The answer of a question asked at or after `began`: the last one if it was, otherwise
    /// `ask()`'s (callers that began before it was sent share it).
    pub async fn after<F, Fut>(&self, began: Instant, ask: F) -> Result<T, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let mut last = self.last.lock().await;
        if let Some((asked, answer)) = last.as_ref() {
            if *asked >= began {
                return answer.clone();
            }
        }
        let asked = Instant::now();
        let answer = ask().await;
        *last = Some((asked, answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn callers_waiting_share_one_question_and_later_ones_ask_again() {
        let shared = Arc::new(ReadAfter::<u32>::default());
        let asked = Arc::new(AtomicU32::new(0));
        let ask = |asked: Arc<AtomicU32>| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(asked.fetch_add(1, Ordering::SeqCst) + 1)
        };
        let began = Instant::now();
        let answers = futures_util::future::join_all((0..8).map(|_| {
            let (shared, asked) = (shared.clone(), asked.clone());
            async move { shared.after(began, || ask(asked)).await }
        }))
        .await;
        assert!(answers.iter().all(|a| a == &Ok(1)), "{answers:?}");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // A caller that began after the last question was sent needs a new one.
        let later = Instant::now();
        assert_eq!(shared.after(later, || ask(asked.clone())).await, Ok(2));
        let failing = shared.after(Instant::now(), || async { Err("down".to_string()) }).await;
        assert_eq!(failing, Err("down".to_string()));
    }
}
