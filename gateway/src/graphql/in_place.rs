//! Objects whose fields are resolved in place: the same type in the schema and the same answer
//! as async-graphql's executor gives, without the executor's boxed future and task per field.
//!
//! async-graphql 7.2 resolves each field of an object as a boxed future in a `FuturesUnordered`
//! (one heap allocation for the future and one reference-counted task per field) and collects
//! the answers into a map looked up twice per field; a list of more than 30 items puts each in a
//! task of a `FuturesOrdered`. A depth-3 chain answers about 600 fields in 200 objects. Here an
//! object's fields are answered one after another when at most one of them may wait
//! (`MayWait`), else joined as futures of one type in one slice; each answer is inserted with
//! one look-up, and a list's items are joined 30 to a slice: 813 k → 676 k instructions per
//! depth-3 chain request (README, Performance).
//!
//! A type that can contain itself keeps one object resolved by the executor on the way round
//! (`Case.chain` answers a plain `CaseChain`): the executor's boxed futures are what end the
//! recursion of the future types.
//!
//! What the executor does per field beyond resolving it is not done here: an extension's
//! `resolve` hook (the schema's one extension, `NotesValidation`, hooks validation only — an
//! extension that hooks `resolve` must not be added while this is used) and custom directives
//! (a schema with any resolves these objects as the executor does, through their own type).

use std::borrow::Cow;

use async_graphql::indexmap::{map::Entry, IndexMap};
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError, ServerResult, Value,
};
use futures_util::future::{join_all, try_join_all};

/// The fields of an object type that may wait (for a read or a loader); its other fields answer
/// when first asked. An object with at most one of them selected resolves its fields one after
/// another — the same moments as concurrently: the fields before the one that waits answer at
/// once, so it is first asked, and joins a loader's batch, in the object's first poll — and one
/// with more, concurrently. A field that may wait but is not listed here would only be waited
/// for before the next field is asked (its loader batch joined later), never answered wrongly.
pub trait MayWait {
    /// The GraphQL names of the fields that may wait.
    const FIELDS: &'static [&'static str];
}

impl<T: MayWait> MayWait for &T {
    const FIELDS: &'static [&'static str] = T::FIELDS;
}

/// An object of type `T` whose fields are resolved as `T` itself would be, within one future.
/// In the schema it is `T`.
pub struct InPlace<T>(pub T);

impl<T: ObjectType + MayWait + Sync> OutputType for InPlace<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        resolve_object(ctx, field, &self.0).await
    }
}

/// A list of objects of type `T`, each resolved as `InPlace<T>`, concurrently as the executor
/// resolves a list's items, within one future. In the schema it is `[T!]!`.
pub struct InPlaceList<'a, T>(pub &'a [T]);

/// How many futures `try_join_all` keeps in one slice, polled in turn (futures-util's
/// `SMALL`); beyond it, it puts each in a task of a `FuturesOrdered`, the bookkeeping this
/// module avoids. A list's items are joined in groups of this many.
const JOINED_IN_ONE_SLICE: usize = 30;

impl<T: ObjectType + MayWait + Sync> OutputType for InPlaceList<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T>>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let contexts: Vec<_> = (0..self.0.len()).map(|index| ctx.with_index(index)).collect();
        let mut items = self.0.iter().zip(&contexts).map(|(item, ctx_item)| async move {
            resolve_object(ctx_item, field, item)
                .await
                .map_err(|error| ctx_item.set_error_path(error))
        });
        // As the executor's list: the first item that fails fails the list, and the items after
        // it are not resolved further.
        let mut groups = Vec::with_capacity(self.0.len().div_ceil(JOINED_IN_ONE_SLICE));
        while groups.len() * JOINED_IN_ONE_SLICE < self.0.len() {
            groups.push(try_join_all(items.by_ref().take(JOINED_IN_ONE_SLICE)));
        }
        let answers = try_join_all(groups).await?;
        Ok(Value::List(answers.into_iter().flatten().collect()))
    }
}

/// An object's answer: in place, unless the schema has custom directives (then by its own type,
/// as the executor resolves it, so that they apply).
async fn resolve_object<T: ObjectType + MayWait + Sync>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    root: &T,
) -> ServerResult<Value> {
    if !ctx.schema_env.custom_directives.is_empty() {
        return root.resolve(ctx, field).await;
    }
    resolve_fields(ctx, root).await
}

/// The selected fields of `root` (concurrently when more than one of them may wait), answered
/// in the order selected; a field that fails adds its error and is left out, as the executor
/// does.
async fn resolve_fields<T: ContainerType + MayWait + Sync>(
    ctx: &ContextSelectionSet<'_>,
    root: &T,
) -> ServerResult<Value> {
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    select(ctx, &ctx.item.node, root, &mut selected)?;
    let fields: Vec<_> = selected.iter().map(|field| ctx.with_field(field)).collect();
    let waiting = selected
        .iter()
        .filter(|field| T::FIELDS.contains(&field.node.name.node.as_str()))
        .count();
    // Concurrently, the fields' futures are moved into one slice: a cost of their size, which
    // one after another does not have.
    let answers = if waiting > 1 {
        join_all(fields.iter().map(|ctx_field| answer(root, ctx_field))).await
    } else {
        let mut answers = Vec::with_capacity(fields.len());
        for ctx_field in &fields {
            answers.push(answer(root, ctx_field).await);
        }
        answers
    };
    let mut object = IndexMap::with_capacity(answers.len());
    for answer in answers {
        match answer {
            Ok((name, value)) => insert_value(&mut object, name, value),
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

/// A field's response key and value.
async fn answer<T: ContainerType>(root: &T, ctx_field: &Context<'_>) -> ServerResult<(Name, Value)> {
    let name = ctx_field.item.node.response_key().node.clone();
    if ctx_field.item.node.name.node == "__typename" {
        return Ok((name, Value::String(root.introspection_type_name().into_owned())));
    }
    Ok((name, root.resolve_field(ctx_field).await?.unwrap_or_default()))
}

/// The fields of `set` that apply to `root`, fragments' fields in their place (the executor's
/// `Fields::add_set` for an object type: a fragment applies when its type condition is absent,
/// the object's type or an interface it implements).
fn select<'a, T: ContainerType>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    root: &T,
    selected: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    for selection in &set.items {
        let (condition, set) = match &selection.node {
            Selection::Field(field) => {
                selected.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{}"."#, spread.node.fragment_name.node),
                        Some(spread.pos),
                    ));
                };
                (Some(&fragment.node.type_condition), &fragment.node.selection_set)
            }
            Selection::InlineFragment(fragment) => {
                (fragment.node.type_condition.as_ref(), &fragment.node.selection_set)
            }
        };
        let applies = match condition.map(|c| c.node.on.node.as_str()) {
            None => true,
            Some(condition) => {
                let name = root.introspection_type_name();
                name == condition
                    || T::type_name() == condition
                    || ctx
                        .schema_env
                        .registry
                        .implements
                        .get(name.as_ref())
                        .is_some_and(|interfaces| interfaces.contains(condition))
            }
        };
        if applies {
            select(ctx, &set.node, root, selected)?;
        }
    }
    Ok(())
}

/// Adds a field's answer; a response key selected twice (through fragments) merges its objects,
/// as the executor's `insert_value` does.
fn insert_value(object: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    match object.entry(name) {
        Entry::Vacant(entry) => {
            entry.insert(value);
        }
        Entry::Occupied(mut entry) => match (entry.get_mut(), value) {
            (Value::Object(into), Value::Object(from)) => {
                for (name, value) in from {
                    insert_value(into, name, value);
                }
            }
            (Value::List(into), Value::List(from)) => {
                for (into, from) in into.iter_mut().zip(from) {
                    if let (Value::Object(into), Value::Object(from)) = (into, from) {
                        for (name, value) in from {
                            insert_value(into, name, value);
                        }
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Interface, Object, Schema, SimpleObject};

    /// An object with fields of every kind the executor treats apart.
    struct Thing(i32);

    #[derive(SimpleObject)]
    struct Inner {
        n: i32,
        label: String,
    }

    #[Object]
    impl Thing {
        async fn n(&self) -> i32 {
            self.0
        }
        async fn label(&self) -> String {
            format!("thing {}", self.0)
        }
        /// Answers after yielding once, as a field that reads does.
        async fn later(&self) -> i32 {
            tokio::task::yield_now().await;
            self.0 * 2
        }
        /// Fails for every third thing (nullable: the error is noted, the field is null).
        async fn sometimes(&self) -> async_graphql::Result<Option<i32>> {
            if self.0 % 3 == 0 {
                Err("no third things".into())
            } else {
                Ok(Some(self.0))
            }
        }
        /// Fails for thing 40 (non-null: the error takes the list with it).
        async fn strict(&self) -> async_graphql::Result<i32> {
            if self.0 == 40 {
                Err("not forty".into())
            } else {
                Ok(self.0)
            }
        }
        async fn inner(&self) -> Inner {
            Inner {
                n: self.0,
                label: format!("inner {}", self.0),
            }
        }
        async fn with_argument(&self, add: i32) -> i32 {
            self.0 + add
        }
    }

    impl MayWait for Thing {
        const FIELDS: &'static [&'static str] = &["later"];
    }

    #[derive(Interface)]
    #[graphql(field(name = "n", ty = "i32"))]
    #[allow(dead_code)]
    enum Numbered {
        Thing(Thing),
    }

    /// Things 0 to 999.
    struct Query(Vec<Thing>);

    #[Object]
    impl Query {
        /// The first `count` things as async-graphql's executor resolves them.
        async fn executor(&self, count: usize) -> Vec<&Thing> {
            self.0[..count].iter().collect()
        }
        /// The same things resolved in place.
        async fn in_place(&self, count: usize) -> InPlaceList<'_, Thing> {
            InPlaceList(&self.0[..count])
        }
        async fn one_executor(&self) -> Thing {
            Thing(7)
        }
        async fn one_in_place(&self) -> InPlace<Thing> {
            InPlace(Thing(7))
        }
    }

    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query((0..1000).map(Thing).collect()), EmptyMutation, EmptySubscription)
            .register_output_type::<Numbered>()
            .finish()
    }

    /// What the executor answers for `selection` on `executor(count)` and what `inPlace(count)`
    /// answers, each as `data.x` and errors with the path's first segment dropped.
    async fn both(selection: &str, count: usize, fragments: &str) -> [serde_json::Value; 2] {
        let schema = schema();
        let mut answers = Vec::new();
        for field in ["executor", "inPlace"] {
            let query = format!("{{ x: {field}(count: {count}) {selection} }} {fragments}");
            let response = schema.execute(query.as_str()).await;
            let errors: Vec<_> = response
                .errors
                .iter()
                .map(|e| {
                    (
                        e.message.clone(),
                        e.path.iter().skip(1).map(|s| format!("{s:?}")).collect::<Vec<_>>(),
                    )
                })
                .collect();
            answers.push(serde_json::json!({
                "data": serde_json::to_value(&response.data).unwrap_or_default(),
                "errors": format!("{errors:?}"),
            }));
        }
        let [a, b]: [serde_json::Value; 2] = answers.try_into().unwrap_or_default();
        [a, b]
    }

    #[tokio::test]
    async fn answers_as_the_executor_does() {
        let cases = [
            ("{ n label }", 3, ""),
            ("{ __typename n }", 2, ""),
            ("{ a: n b: label n: label }", 2, ""),
            ("{ later n later2: later }", 75, ""),
            ("{ n later label }", 40, ""),
            ("{ n sometimes }", 35, ""),
            ("{ n strict }", 45, ""),
            ("{ n strict }", 39, ""),
            ("{ inner { n } inner { label } }", 3, ""),
            ("{ ...F n }", 4, "fragment F on Thing { label inner { n } }"),
            ("{ ... on Numbered { n } ... on Thing { label } ... { later } }", 4, ""),
            (
                "{ ...G }",
                3,
                "fragment G on Numbered { n ... on Thing { inner { label } } }",
            ),
            (
                "{ n @skip(if: true) label @include(if: false) later @include(if: true) }",
                3,
                "",
            ),
            ("{ withArgument(add: 5) other: withArgument(add: -1) }", 3, ""),
            ("{ n }", 0, ""),
            ("{ n }", 30, ""),
            ("{ n }", 31, ""),
            ("{ n }", 901, ""),
        ];
        for (selection, count, fragments) in cases {
            let [executor, in_place] = both(selection, count, fragments).await;
            assert_eq!(executor, in_place, "{selection} over {count}");
            assert!(executor["data"]["x"].is_array() || executor["data"]["x"].is_null());
        }
        // The error cases fail as they should (the comparison above is not of two nulls): the
        // executor notes a field's error and leaves the field out of its object.
        let [strict, _] = both("{ n strict }", 45, "").await;
        assert_eq!(strict["data"]["x"][40], serde_json::json!({"n": 40}));
        assert_eq!(
            strict["errors"],
            r#"[("not forty", ["Index(40)", "Field(\"strict\")"])]"#
        );
        let [sometimes, _] = both("{ n sometimes }", 35, "").await;
        assert_eq!(sometimes["data"]["x"][3]["sometimes"], serde_json::Value::Null);
        assert_eq!(sometimes["data"]["x"][4]["sometimes"], 4);
    }

    #[tokio::test]
    async fn one_object_answers_as_the_executor_does() {
        let schema = schema();
        let selection = "{ __typename n later sometimes inner { n label } ...on Numbered { n } }";
        let executor = schema.execute(format!("{{ x: oneExecutor {selection} }}")).await;
        let in_place = schema.execute(format!("{{ x: oneInPlace {selection} }}")).await;
        assert!(executor.errors.is_empty(), "{:?}", executor.errors);
        assert_eq!(executor.data, in_place.data);
        assert_eq!(executor.errors, in_place.errors);
    }

    /// A misspelt name would leave a field that waits out of its type's list: its loader batch
    /// would form later.
    #[test]
    fn the_fields_that_may_wait_are_fields_of_their_types() {
        use crate::graphql::chain::{CaseChain, ChainHub, ChainLink, ChainNode};
        use crate::graphql::types::Case;
        let sdl = crate::schema_sdl();
        let lists = [
            ("Case", Case::FIELDS),
            ("CaseChain", CaseChain::FIELDS),
            ("ChainNode", ChainNode::FIELDS),
            ("ChainLink", ChainLink::FIELDS),
            ("ChainHub", ChainHub::FIELDS),
        ];
        for (name, fields) in lists {
            let start = sdl
                .find(&format!("\ntype {name} "))
                .unwrap_or_else(|| panic!("no type {name}"))
                + 1;
            let block = &sdl[start..start + sdl[start..].find("\n}").unwrap_or_default()];
            let declared: Vec<&str> = block
                .lines()
                .skip(1)
                .filter_map(|line| line.trim().split(['(', ':']).next())
                .collect();
            for field in fields {
                assert!(declared.contains(field), "{name}.{field} is not in {declared:?}");
            }
        }
    }

    #[test]
    fn the_schema_has_the_objects_own_types() {
        let sdl = schema().sdl();
        assert!(sdl.contains("executor(count: Int!): [Thing!]!"), "{sdl}");
        assert!(sdl.contains("inPlace(count: Int!): [Thing!]!"), "{sdl}");
        assert!(sdl.contains("oneInPlace: Thing!"), "{sdl}");
    }
}
