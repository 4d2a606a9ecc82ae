//! Optimal assignment (Hungarian algorithm with potentials, O(n²m)) for rectangular cost matrices:
//! the tracker's data association, so that matching is globally optimal rather than first-come.

/// Solves the rectangular assignment problem for a row-major `rows x cols` cost matrix, minimising
/// the total cost of a matching that covers min(rows, cols) pairs. Returns, for each row, the column
/// assigned to it (`None` for rows left over when rows > cols). Costs must be finite.
pub fn assign(costs: &[f64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    debug_assert_eq!(costs.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    if rows <= cols {
        solve(rows, cols, |i, j| costs[i * cols + j])
    } else {
        // Transpose: assign each column a row, then invert.
        let by_col = solve(cols, rows, |i, j| costs[j * cols + i]);
        let mut out = vec![None; rows];
        for (c, r) in by_col.into_iter().enumerate() {
            if let Some(r) = r {
                out[r] = Some(c);
            }
        }
        out
    }
}

/// Hungarian algorithm for n <= m (1-based internals, after e-maxx).
fn solve(n: usize, m: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<Option<usize>> {
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    let mut minv = vec![0.0; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        minv.iter_mut().for_each(|x| *x = f64::INFINITY);
        used.iter_mut().for_each(|x| *x = false);
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            if j1 == 0 {
                // Only reachable with non-finite costs; stop rather than loop forever.
                break;
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn total(costs: &[f64], cols: usize, a: &[Option<usize>]) -> f64 {
        a.iter().enumerate().filter_map(|(i, j)| j.map(|j| costs[i * cols + j])).sum()
    }

    fn brute(costs: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(i: usize, rows: usize, cols: usize, costs: &[f64], used: &mut Vec<bool>, need: usize) -> f64 {
            if need == 0 {
                return 0.0;
            }
            if i == rows {
                return f64::INFINITY;
            }
            let mut best = if rows - i > need { go(i + 1, rows, cols, costs, used, need) } else { f64::INFINITY };
            for j in 0..cols {
                if !used[j] {
                    used[j] = true;
                    best = best.min(costs[i * cols + j] + go(i + 1, rows, cols, costs, used, need - 1));
                    used[j] = false;
                }
            }
            best
        }
        go(0, rows, cols, costs, &mut vec![false; cols], rows.min(cols))
    }

    #[test]
    fn greedy_would_be_wrong_here() {
        // Greedy picks (0,0)=1 then (1,1)=10: total 11. Optimal is (0,1)+(1,0) = 2+2 = 4.
        let costs = [1.0, 2.0, 2.0, 10.0];
        assert_eq!(assign(&costs, 2, 2), vec![Some(1), Some(0)]);
    }

    proptest! {
        #[test]
        fn matches_brute_force(rows in 1usize..5, cols in 1usize..5, seed in proptest::collection::vec(0u32..100, 16)) {
            let costs: Vec<f64> = (0..rows * cols).map(|k| f64::from(seed[k])).collect();
            let a = assign(&costs, rows, cols);
            prop_assert_eq!(a.len(), rows);
            prop_assert_eq!(a.iter().flatten().count(), rows.min(cols));
            let mut cols_used: Vec<_> = a.iter().flatten().collect();
            cols_used.sort();
            cols_used.dedup();
            prop_assert_eq!(cols_used.len(), rows.min(cols));
            prop_assert!((total(&costs, cols, &a) - brute(&costs, rows, cols)).abs() < 1e-9);
        }
    }
}
