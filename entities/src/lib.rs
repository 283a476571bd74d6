//! Qianchuan's unified model: the domain vocabulary, identifier newtypes with
//! parse/normalize/validate, and the sea-orm entities.

pub mod ids;
pub mod model;
pub mod sql;
pub mod vocab;
pub mod workflow;

pub use model::*;
pub use vocab::{
    CodeColor, Feed, FindingLevel, FindingStatus, LinkKind, LoopStage, PartyKind, Satisfaction, Source, SubjectKind,
    TaskAction, Trade, WarningAction, WarningColor,
};
