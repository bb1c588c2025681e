-- async-tools migration 0011: a drain whose cost does not grow with the store. Every drain (each NOTIFY, each
-- tick of every replica) called resonate.process_timeouts(), whose promise pass filtered on
-- _promise_timed(promises): a function of the whole row, which no index serves, so each drain read every
-- promise kept (finished ones stay until retention removes them).
--
-- The promise pass is replaced by the same pass with that function's body written out (a pending external
-- promise past its timeout), which the index of pending promises' timeouts serves; what it times out, in which
-- order, is unchanged. And the drain asks the indexes whether any promise, task or schedule is due, with the
-- passes' own conditions, and runs them only when one is; due timers fire as before.
CREATE OR REPLACE FUNCTION resonate.process_promise_timeouts(p_now bigint) RETURNS int
  LANGUAGE plpgsql AS $$
DECLARE r record; cnt int := 0;
BEGIN
  FOR r IN SELECT p.id FROM resonate.promises p
           WHERE p.state = 'pending' AND p.external AND p.timeout_at <= p_now
           ORDER BY p.timeout_at, p.id LOOP
    PERFORM resonate._on_promise_timeout(r.id, p_now); cnt := cnt + 1;
  END LOOP;
  RETURN cnt;
END $$;

CREATE OR REPLACE FUNCTION async_tools.drain(p_anycast text, p_unicast text, p_limit int)
  RETURNS TABLE (kind text, task_id text, version int, promise jsonb)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
DECLARE
  v_now bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF EXISTS (SELECT 1 FROM resonate.promises p
              WHERE p.state = 'pending' AND p.external AND p.timeout_at <= v_now)
     OR EXISTS (SELECT 1 FROM resonate.tasks t
                 WHERE t.state IN ('pending', 'acquired') AND t.timeout_at <= v_now)
     OR EXISTS (SELECT 1 FROM resonate.schedules s WHERE s.next_run_at <= v_now) THEN
    PERFORM resonate.process_timeouts(v_now);
  END IF;
  RETURN QUERY SELECT 'execute'::text, d.task_id, d.version, NULL::jsonb
    FROM resonate.dequeue_execute(p_anycast, p_limit) d;
  RETURN QUERY SELECT 'execute'::text, d.task_id, d.version, NULL::jsonb
    FROM resonate.dequeue_execute(p_unicast, p_limit) d;
  RETURN QUERY SELECT 'unblock'::text, NULL::text, NULL::int, d.promise
    FROM resonate.dequeue_unblock(p_unicast, p_limit) d;
END $$;
