//! Small-cell protection for aggregate-only roles, complementary suppression included.
//!
//! A cell (bucket) counting fewer than `small` records is suppressed (primary suppression).
//! That alone is not enough: the same caller can ask for the totals of the same filter grouped
//! by any subset of the same dimensions, and a suppressed cell is then the difference between a
//! total and the published cells beside it. So cells are suppressed in addition until no
//! suppressed cell can be derived exactly from the published cells and the published totals:
//!
//! - the attacker's equations: for every proper subset of the dimensions and every group of
//!   cells sharing their values on it, "the group's cells add up to its total", where the
//!   total is published (it counts at least `small`; a smaller total is itself suppressed);
//! - a suppressed cell is derivable when its unit vector lies in the row space of those
//!   equations restricted to the suppressed cells (Gaussian elimination);
//! - while one is, the smallest published cell sharing a group with it is suppressed too.
//!
//! Absent cells count as known zeros, as they are to the caller. Past `MAX_EXACT` suppressed
//! cells the elimination would be too slow for a request, and every cell is suppressed.
//! What this cannot prevent: a cell revealed by the published totals alone (a group whose only
//! cell it is, for instance), which no answer to this query can hide.

use std::collections::HashMap;

/// A bucket counting fewer records than this is suppressed for roles that see aggregates
/// only (API.md, "Small cells").
pub const SMALL_CELL: u64 = 5;

/// The most suppressed cells solved exactly; beyond, the whole answer is suppressed.
const MAX_EXACT: usize = 400;

/// Which of `cells` (their values on each grouped dimension, and their counts) to suppress.
pub fn suppressed(cells: &[(Vec<Option<String>>, u64)], small: u64) -> Vec<bool> {
    let mut hidden: Vec<bool> = cells.iter().map(|(_, n)| *n < small).collect();
    if !hidden.iter().any(|h| *h) {
        return hidden;
    }
    let dims = cells.first().map_or(0, |(key, _)| key.len());
    let groups = published_groups(cells, dims, small);
    for _ in 0..cells.len() {
        let hidden_ids: Vec<usize> = (0..cells.len()).filter(|i| hidden[*i]).collect();
        if hidden_ids.len() > MAX_EXACT {
            return vec![true; cells.len()];
        }
        let Some(exposed) = derivable(&groups, &hidden_ids) else {
            return hidden;
        };
        match complement(&groups, cells, &hidden, exposed) {
            Some(extra) => hidden[extra] = true,
            None => {
                // Nothing beside it is still published: hide the smallest published cell left.
                match (0..cells.len()).filter(|i| !hidden[*i]).min_by_key(|i| cells[*i].1) {
                    Some(extra) => hidden[extra] = true,
                    None => return hidden,
                }
            }
        }
    }
    hidden
}

/// The groups (as lists of cell indices) whose totals the caller can obtain: one per value
/// combination of every proper subset of the dimensions, with a total of at least `small`.
fn published_groups(cells: &[(Vec<Option<String>>, u64)], dims: usize, small: u64) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for mask in 0..(1u32 << dims) {
        if dims > 0 && mask == (1u32 << dims) - 1 {
            continue;
        }
        let mut by: HashMap<Vec<Option<&str>>, (Vec<usize>, u64)> = HashMap::new();
        for (i, (key, n)) in cells.iter().enumerate() {
            let projected: Vec<Option<&str>> = (0..dims)
                .filter(|d| mask & (1 << d) != 0)
                .map(|d| key[d].as_deref())
                .collect();
            let entry = by.entry(projected).or_default();
            entry.0.push(i);
            entry.1 += n;
        }
        out.extend(
            by.into_values()
                .filter(|(_, total)| *total >= small)
                .map(|(members, _)| members),
        );
    }
    out
}

/// A suppressed cell (index into `cells`) that the published totals give away, if any.
fn derivable(groups: &[Vec<usize>], hidden_ids: &[usize]) -> Option<usize> {
    let column: HashMap<usize, usize> = hidden_ids.iter().enumerate().map(|(c, i)| (*i, c)).collect();
    let width = hidden_ids.len();
    let mut rows: Vec<Vec<f64>> = groups
        .iter()
        .filter_map(|members| {
            let mut row = vec![0.0; width];
            let mut any = false;
            for m in members {
                if let Some(c) = column.get(m) {
                    row[*c] = 1.0;
                    any = true;
                }
            }
            any.then_some(row)
        })
        .collect();
    // Reduced row echelon form.
    let mut pivot_row = 0;
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    for col in 0..width {
        let Some(best) = (pivot_row..rows.len()).max_by(|a, b| rows[*a][col].abs().total_cmp(&rows[*b][col].abs()))
        else {
            break;
        };
        if rows[best][col].abs() < 1e-9 {
            continue;
        }
        rows.swap(pivot_row, best);
        let p = rows[pivot_row][col];
        for v in rows[pivot_row].iter_mut() {
            *v /= p;
        }
        let pivot = rows[pivot_row].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            if r != pivot_row && row[col].abs() > 1e-12 {
                let f = row[col];
                for (v, q) in row.iter_mut().zip(&pivot) {
                    *v -= f * q;
                }
            }
        }
        pivots.push((pivot_row, col));
        pivot_row += 1;
        if pivot_row == rows.len() {
            break;
        }
    }
    pivots.into_iter().find_map(|(r, col)| {
        let alone = rows[r].iter().enumerate().all(|(c, v)| c == col || v.abs() < 1e-9);
        alone.then_some(hidden_ids[col])
    })
}

/// The smallest published cell that shares a published group with `exposed`.
fn complement(
    groups: &[Vec<usize>],
    cells: &[(Vec<Option<String>>, u64)],
    hidden: &[bool],
    exposed: usize,
) -> Option<usize> {
    groups
        .iter()
        .filter(|members| members.contains(&exposed))
        .flat_map(|members| members.iter().copied())
        .filter(|i| !hidden[*i])
        .min_by_key(|i| (cells[*i].1, *i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(a: &str, b: &str, n: u64) -> (Vec<Option<String>>, u64) {
        (vec![Some(a.to_string()), Some(b.to_string())], n)
    }

    /// Every way the caller can rebuild a suppressed cell with one total and the published
    /// cells of its group: none may succeed.
    fn differencing_recovers(cells: &[(Vec<Option<String>>, u64)], hidden: &[bool], small: u64) -> Vec<usize> {
        let groups = published_groups(cells, 2, small);
        let hidden_ids: Vec<usize> = (0..cells.len()).filter(|i| hidden[*i]).collect();
        let mut found = Vec::new();
        for members in &groups {
            let unknown: Vec<&usize> = members.iter().filter(|m| hidden[**m]).collect();
            if unknown.len() == 1 {
                found.push(*unknown[0]);
            }
        }
        if let Some(i) = derivable(&groups, &hidden_ids) {
            found.push(i);
        }
        found
    }

    #[test]
    fn a_lone_small_cell_gets_a_complement_in_each_direction() {
        // Regions × sources: 330102/SOCIAL holds 2.
        let cells = vec![
            cell("330102", "SOCIAL", 2),
            cell("330102", "ENFORCEMENT", 40),
            cell("330102", "CONGRESS", 9),
            cell("330106", "SOCIAL", 30),
            cell("330106", "ENFORCEMENT", 50),
            cell("330106", "CONGRESS", 7),
        ];
        let hidden = suppressed(&cells, 5);
        assert!(hidden[0]);
        assert!(hidden.iter().filter(|h| **h).count() >= 4, "{hidden:?}");
        assert!(differencing_recovers(&cells, &hidden, 5).is_empty(), "{hidden:?}");
    }

    #[test]
    fn nothing_small_hides_nothing() {
        let cells = vec![cell("a", "x", 5), cell("a", "y", 9)];
        assert_eq!(suppressed(&cells, 5), vec![false, false]);
    }

    #[test]
    fn one_dimension_hides_a_second_cell() {
        let cells = vec![
            (vec![Some("a".into())], 3),
            (vec![Some("b".into())], 10),
            (vec![Some("c".into())], 12),
        ];
        let hidden = suppressed(&cells, 5);
        assert_eq!(hidden, vec![true, true, false]);
    }

    #[test]
    fn a_generated_grid_never_gives_a_small_cell_away() {
        // A deterministic spread of counts over 6 regions × 5 sources.
        for seed in 0..40u64 {
            let mut cells = Vec::new();
            let mut x = seed * 7919 + 13;
            for r in 0..6 {
                for s in 0..5 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let n = (x >> 33) % 14;
                    if n > 0 {
                        cells.push(cell(&format!("r{r}"), &format!("s{s}"), n));
                    }
                }
            }
            let hidden = suppressed(&cells, 5);
            for (i, (_, n)) in cells.iter().enumerate() {
                assert!(*n >= 5 || hidden[i]);
            }
            let recovered = differencing_recovers(&cells, &hidden, 5);
            let small_recovered: Vec<_> = recovered.iter().filter(|i| cells[**i].1 < 5).collect();
            assert!(small_recovered.is_empty(), "seed {seed}: {small_recovered:?}");
        }
    }
}
