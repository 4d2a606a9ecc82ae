//! Synthetic results for scale benchmarks (`farm seed-scale`): every run of a seeded candidate gets
//! a stored result in two set-based statements instead of a worker's claim and write per run.
//! Never used by the farm's own paths.

use super::{on_pool, Store, StoreError};
use crate::domain::ids::CandidateId;

/// Marks every run of `candidate_id` finished: those whose `ord` is `fail_at` modulo `fail_every`
/// as `failed` with `failed_result`, the others `passed` with `passed_result` (JSON text of a
/// `RunRecord`), all with `digest` and `now` as finish time.
pub async fn finish_all(
    store: &Store,
    candidate_id: &CandidateId,
    (passed_result, failed_result): (&str, &str),
    (fail_every, fail_at): (i64, i64),
    digest: &str,
    now: i64,
) -> Result<(), StoreError> {
    let sql = "UPDATE runs SET \
               status = CASE WHEN ord % $2 = $3 THEN 'failed' ELSE 'passed' END, \
               reason = CASE WHEN ord % $2 = $3 THEN 'no_collision: synthetic failure' ELSE NULL END, \
               result = CASE WHEN ord % $2 = $3 THEN $4 ELSE $5 END, \
               digest = $6, first_digest = CASE WHEN ord % $2 = $3 THEN $6 ELSE NULL END, \
               finished_at = $7, attempt = 1 \
               WHERE candidate_id = $1";
    on_pool!(store, pool => {
        sqlx::query(sql)
            .bind(candidate_id.as_str())
            .bind(fail_every)
            .bind(fail_at)
            .bind(failed_result)
            .bind(passed_result)
            .bind(digest)
            .bind(now)
            .execute(pool)
            .await?;
        Ok(())
    })
}

/// Refreshes the planner's statistics after a bulk load (autovacuum does it on a live farm; a
/// freshly seeded table would otherwise be planned as if empty).
pub async fn analyze(store: &Store) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        sqlx::query("ANALYZE").execute(pool).await?;
        Ok(())
    })
}
