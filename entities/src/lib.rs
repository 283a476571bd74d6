//! Qianchuan's unified model: the domain vocabulary, identifier newtypes with
//! parse/normalize/validate, and the sea-orm entities.

pub mod ids;
pub mod model;
pub mod sql;
pub mod vocab;
pub mod workflow;

pub use model::*;
pub use vocab::{
    Feed, LinkKind, LoopStage, PartyKind, Satisfaction, Source, SubjectKind, TaskAction, WarningAction, WarningColor,
};
