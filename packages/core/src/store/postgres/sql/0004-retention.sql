-- async-tools migration 0004: retention on Postgres, one replica at a time. async_tools.retain() removes the
-- jobs that finished more than p_retention_ms ago with resonate.gc() (in batches), the step records of jobs no
-- longer there, and the job index rows p_grace_ms after that (until then a probe says `expired`, not
-- `not_found`). It runs with the owner's rights, so worker roles need no grant on resonate.gc(), and returns
-- -1 without doing anything while another replica's sweep holds the lock.
CREATE OR REPLACE FUNCTION async_tools.retain(p_retention_ms bigint, p_grace_ms bigint)
  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = async_tools, resonate, pg_temp AS $$
DECLARE
  now bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
  batch bigint;
  removed bigint := 0;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('async_tools.retain')) THEN
    RETURN -1;
  END IF;
  LOOP
    batch := resonate.gc(now - p_retention_ms, 10000);
    removed := removed + batch;
    EXIT WHEN batch < 10000;
  END LOOP;
  DELETE FROM async_tools.steps s
    WHERE s.started_at < now - p_retention_ms
      AND NOT EXISTS (SELECT 1 FROM resonate.promises p WHERE p.id = s.job_id);
  DELETE FROM async_tools.jobs WHERE created_at < now - p_retention_ms - p_grace_ms;
  RETURN removed;
END $$;

REVOKE EXECUTE ON FUNCTION async_tools.retain(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.retain(bigint, bigint) TO resonate_worker;
