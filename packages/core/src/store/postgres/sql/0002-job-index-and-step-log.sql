-- async-tools migration 0002: what Resonate's promises do not hold about a job (its tool, who started it, its latest progress,
-- a row that outlives retention) and every attempt of its steps, shared by every replica of the store.
-- Times are epoch milliseconds, as in resonate.sql.
CREATE TABLE IF NOT EXISTS async_tools.jobs (
  seq bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  tool text NOT NULL,
  created_at bigint NOT NULL,
  progress double precision,
  message text,
  progress_at bigint,
  -- Who started the job ('' for no one); NULL only for a row a progress write created before its record.
  principal text
);
CREATE INDEX IF NOT EXISTS jobs_tool_seq ON async_tools.jobs (tool, seq);
CREATE INDEX IF NOT EXISTS jobs_principal_seq ON async_tools.jobs (principal, seq);
CREATE INDEX IF NOT EXISTS jobs_created_at ON async_tools.jobs (created_at);

CREATE TABLE IF NOT EXISTS async_tools.steps (
  job_id text NOT NULL,
  step_id text NOT NULL,
  name text NOT NULL,
  attempt integer NOT NULL,
  outcome text NOT NULL,
  started_at bigint NOT NULL,
  ended_at bigint,
  error text,
  retry_at bigint,
  PRIMARY KEY (job_id, step_id, attempt)
);
CREATE INDEX IF NOT EXISTS steps_started_at ON async_tools.steps (started_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON async_tools.jobs, async_tools.steps TO resonate_worker;
GRANT USAGE ON SEQUENCE async_tools.jobs_seq_seq TO resonate_worker;
