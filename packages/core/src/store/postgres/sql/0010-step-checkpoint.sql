-- async-tools migration 0010: a step's checkpoint in the two requests that make its durable promise. The runtime
-- tags a step's promise async-tools:step with the step's name. Its fenced create, when it leaves the promise
-- pending (the step is about to run), starts the attempt in the step log in the same transaction and answers the
-- attempt's number; its fenced settle carries the attempt's end. Two round trips and two commits per step, not four.
-- The create's commit does not wait for the disk: a pending step promise lost to a crash of Postgres only makes
-- the step run again, as a crash during the step does. The settle's commit waits for the disk, and WAL order makes
-- everything committed before it (the create) durable with it, so a finished step still never runs again.

-- Whether p_request is the fenced create of a step's promise.
CREATE OR REPLACE FUNCTION async_tools.is_step_create(p_request jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$
  SELECT COALESCE(p_request->>'kind' = 'task.fence'
    AND p_request->'data'->'action'->>'kind' = 'promise.create'
    AND p_request->'data'->'action'->'data'->'tags' ? 'async-tools:step', false);
$$;

-- One request and its step's record: p_step is {"at"} (epoch ms) beside a step's create, {"job", "step",
-- "attempt", "at", "error"} (an attempt's end) beside its settle, or NULL. Runs with the caller's rights: only the
-- SECURITY DEFINER functions below call it.
CREATE OR REPLACE FUNCTION async_tools.checkpoint(p_request jsonb, p_step jsonb) RETURNS jsonb
  LANGUAGE plpgsql SET search_path = resonate, pg_temp AS $$
DECLARE
  answer jsonb := resonate.resonate_rpc(p_request);
  created jsonb := answer->'data'->'action';
  tags jsonb;
  job text;
  step text;
  at_ms bigint := (p_step->>'at')::bigint;
  n int;
BEGIN
  IF p_step IS NULL THEN
    RETURN answer;
  END IF;
  IF async_tools.is_step_create(p_request) THEN
    IF (answer->'head'->>'status')::int <> 200 OR (created->'head'->>'status')::int <> 200
       OR created->'data'->'promise'->>'state' <> 'pending' THEN
      RETURN answer;
    END IF;
    tags := p_request->'data'->'action'->'data'->'tags';
    job := tags->>'resonate:parent';
    step := created->'data'->'promise'->>'id';
    -- An attempt still running belonged to a process that is gone; the count goes on across processes.
    UPDATE async_tools.steps SET outcome = 'interrupted', ended_at = at_ms
      WHERE job_id = job AND step_id = step AND outcome = 'running';
    INSERT INTO async_tools.steps (job_id, step_id, name, attempt, outcome, started_at)
      SELECT job, step, tags->>'async-tools:step', COALESCE(MAX(s.attempt), 0) + 1, 'running', at_ms
      FROM async_tools.steps s WHERE s.job_id = job AND s.step_id = step
      ON CONFLICT (job_id, step_id, attempt) DO UPDATE SET outcome = 'running', started_at = excluded.started_at
      RETURNING attempt INTO n;
    RETURN answer || jsonb_build_object('asyncTools', jsonb_build_object('attempt', n));
  END IF;
  -- The attempt ended as it did whether or not the settle was accepted (a replica that lost the task).
  UPDATE async_tools.steps
    SET outcome = CASE WHEN p_step ? 'error' THEN 'failed' ELSE 'succeeded' END, ended_at = at_ms,
        error = p_step->>'error'
    WHERE job_id = p_step->>'job' AND step_id = p_step->>'step' AND attempt = (p_step->>'attempt')::int;
  RETURN answer;
END $$;

-- One request alone, with its step's record.
CREATE OR REPLACE FUNCTION async_tools.rpc(p_request jsonb, p_step jsonb)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
BEGIN
  IF async_tools.is_step_create(p_request) THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  RETURN async_tools.checkpoint(p_request, p_step);
END $$;

-- Migration 0009's batch with each request's step record (p_steps, in the order of p_requests; NULL for none);
-- its commit waits for the disk unless every request is a step's create or a read.
DROP FUNCTION IF EXISTS async_tools.rpc_batch(jsonb[], int);

CREATE OR REPLACE FUNCTION async_tools.rpc_batch(p_requests jsonb[], p_lock_wait_ms int, p_steps jsonb[] DEFAULT NULL)
  RETURNS jsonb[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
DECLARE
  answer jsonb;
  answers jsonb[] := '{}';
BEGIN
  PERFORM set_config('lock_timeout', p_lock_wait_ms || 'ms', true);
  IF NOT EXISTS (SELECT 1 FROM unnest(p_requests) r
                 WHERE NOT (async_tools.is_step_create(r) OR r->>'kind' IN ('promise.get', 'task.get'))) THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  FOR i IN 1 .. coalesce(array_length(p_requests, 1), 0) LOOP
    BEGIN
      answer := async_tools.checkpoint(p_requests[i], p_steps[i]);
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

REVOKE EXECUTE ON FUNCTION async_tools.checkpoint(jsonb, jsonb), async_tools.rpc(jsonb, jsonb),
  async_tools.rpc_batch(jsonb[], int, jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.rpc(jsonb, jsonb), async_tools.rpc_batch(jsonb[], int, jsonb[])
  TO resonate_worker;
