//! The supervision loop of the hub's own tasks: which step may follow which.
//! 督办 (NOTIFIED) → 整改 (RECTIFYING) → 回访 (REVISITED) → 销号 (CLOSED), or back to NOTIFIED.

use crate::vocab::{LoopStage, TaskAction};

impl TaskAction {
    /// The stage an action leads to from `from`, or `None` when it is not allowed there.
    pub fn next(self, from: Option<LoopStage>) -> Option<LoopStage> {
        use LoopStage::*;
        match (self, from) {
            (TaskAction::Open, None) => Some(Notified),
            (TaskAction::Answer, Some(Notified)) => Some(Rectifying),
            (TaskAction::Revisit, Some(Rectifying)) => Some(Revisited),
            (TaskAction::Close, Some(Revisited)) => Some(Closed),
            (TaskAction::Return, Some(Revisited)) => Some(Notified),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoopStage::*;

    #[test]
    fn the_loop_and_nothing_else() {
        assert_eq!(TaskAction::Open.next(None), Some(Notified));
        assert_eq!(TaskAction::Answer.next(Some(Notified)), Some(Rectifying));
        assert_eq!(TaskAction::Revisit.next(Some(Rectifying)), Some(Revisited));
        assert_eq!(TaskAction::Close.next(Some(Revisited)), Some(Closed));
        assert_eq!(TaskAction::Return.next(Some(Revisited)), Some(Notified));
        let actions = [
            TaskAction::Open,
            TaskAction::Answer,
            TaskAction::Revisit,
            TaskAction::Close,
            TaskAction::Return,
        ];
        let mut allowed = 0;
        for a in actions {
            for from in [
                None,
                Some(Discovered),
                Some(Notified),
                Some(Rectifying),
                Some(Revisited),
                Some(Closed),
            ] {
                allowed += a.next(from).is_some() as usize;
            }
        }
        assert_eq!(allowed, 5, "every other step is illegal");
    }
}
