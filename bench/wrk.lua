-- One wrk scenario, configured by the environment:
--   BENCH_METHOD (GET), BENCH_BODY (none), BENCH_TOKEN (a bearer token, none by default),
--   BENCH_REFRESH_TOKENS (a file of refresh tokens, one a line: each request presents the next unused one, so every
--   POST /auth/refresh is a real rotation; the threads take every n-th line so they never share a token),
--   BENCH_LOGIN_EMAILS and BENCH_LOGIN_PASSWORD (a file of addresses, one a line: sign in as each in turn, so that
--   sign-ins are spread over accounts as real ones are, rather than one account signing in from 16 places at once).
-- At the end it prints one line, `RESULT requests errors seconds p50_us p99_us`, for bench/run.sh to collect.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local token_file = os.getenv("BENCH_REFRESH_TOKENS")
local login_file = os.getenv("BENCH_LOGIN_EMAILS")
local login_password = os.getenv("BENCH_LOGIN_PASSWORD")

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  wrk.method = method
  wrk.headers["Content-Type"] = "application/json"
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
  if body then wrk.body = body end
  if token_file then
    tokens = {}
    local total = tonumber(os.getenv("BENCH_THREADS") or "1")
    local n = 0
    for line in io.lines(token_file) do
      if n % total == id then tokens[#tokens + 1] = line end
      n = n + 1
    end
    next_token = 1
  end
  if login_file then
    emails = {}
    for line in io.lines(login_file) do emails[#emails + 1] = line end
  end
  login_count = 0
  thread_total = tonumber(os.getenv("BENCH_THREADS") or "1")
end

function request()
  if tokens then
    local refresh = tokens[next_token]
    if refresh == nil then
      error("bench: this thread ran out of refresh tokens; seed more (BENCH_REFRESH_SESSIONS)")
    end
    next_token = next_token + 1
    return wrk.format(nil, nil, nil, '{"refresh_token":"' .. refresh .. '"}')
  end
  if emails then
    login_count = login_count + 1
    local email = emails[(login_count * thread_total + id) % #emails + 1]
    return wrk.format(nil, nil, nil, string.format('{"email":"%s","password":"%s"}', email, login_password))
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local errors = summary.errors
  local failed = errors.connect + errors.read + errors.write + errors.timeout + errors.status
  io.write(string.format("RESULT %d %d %.3f %d %d\n", summary.requests, failed, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99)))
end
