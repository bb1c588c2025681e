-- async-tools migration 0009: a batch of requests never waits long for a lock. A batch holds the locks of every
-- request it has run until it commits, so two batches (or a batch and a lone request) that touch the same jobs
-- in different orders, such as a heartbeat (all of a replica's tasks) beside a step's checkpoint, deadlock.
-- resonate_rpc() retries a deadlocked request in a subtransaction of its own, which releases none of the locks
-- the batch's earlier requests hold: the cycle forms again, up to 50 times a deadlock_timeout, and the batch
-- stalled for over a minute (leases lapsed, awaits timed out). Here a request of a batch waits at most
-- p_lock_wait_ms for a lock; one that would wait longer, or that failed in any other way (resonate_rpc answers
-- 500), answers {"error": ...}, its effects undone, and the replica sends it again alone after the batch.
DROP FUNCTION IF EXISTS async_tools.rpc_batch(jsonb[]);

CREATE OR REPLACE FUNCTION async_tools.rpc_batch(p_requests jsonb[], p_lock_wait_ms int)
  RETURNS jsonb[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
DECLARE
  request jsonb;
  answer jsonb;
  answers jsonb[] := '{}';
BEGIN
  PERFORM set_config('lock_timeout', p_lock_wait_ms || 'ms', true);
  FOREACH request IN ARRAY p_requests LOOP
    BEGIN
      answer := resonate.resonate_rpc(request);
      IF (answer->'head'->>'status')::int = 500 THEN
        answer := jsonb_build_object('error', 'failed in a batch (a lock it needed was busy); send it alone');
      END IF;
    EXCEPTION WHEN OTHERS THEN
      answer := jsonb_build_object('error', SQLERRM);
    END;
    answers := answers || answer;
  END LOOP;
  RETURN answers;
END $$;

REVOKE EXECUTE ON FUNCTION async_tools.rpc_batch(jsonb[], int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.rpc_batch(jsonb[], int) TO resonate_worker;
