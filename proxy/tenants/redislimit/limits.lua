-- Per-key limits and budgets counted in Redis, by Redis's own clock (TIME),
-- so instances whose clocks disagree still share one minute and one period.
-- ARGV: op (admit|spend|spent|reset), key id, period (day|month|""), then
--   admit: rpm, tpm, budget      spend: tokens, units
-- admit returns {verdict, retry_after_seconds, what}: 0 admitted, 1 over a
-- rate, 2 over the budget. spend returns 0; spent returns the period's spend.
local op, id, period = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1])
local minute = math.floor(now / 60)
local rk = 'px:{' .. id .. '}:r:' .. minute
local tk = 'px:{' .. id .. '}:t:' .. minute
local wait = 60 - (now % 60)

-- civil turns days since 1970-01-01 into year, month, day (proleptic Gregorian).
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local days = math.floor(now / 86400)
local bk, left, ttl
if period == 'day' then
  bk = 'px:{' .. id .. '}:b:d' .. days
  left = (days + 1) * 86400 - now
  ttl = 2 * 86400
else
  local y, m, d = civil(days)
  local dim = ({31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31})[m]
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then dim = 29 end
  bk = 'px:{' .. id .. '}:b:m' .. (y * 12 + m)
  left = (dim - d + 1) * 86400 - (now % 86400)
  ttl = 33 * 86400
end

if op == 'admit' then
  local rpm, tpm, budget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  if budget > 0 and tonumber(redis.call('GET', bk) or '0') >= budget then
    return {2, left, 'budget'}
  end
  if rpm > 0 and tonumber(redis.call('GET', rk) or '0') >= rpm then
    return {1, wait, 'requests per minute'}
  end
  if tpm > 0 and tonumber(redis.call('GET', tk) or '0') >= tpm then
    return {1, wait, 'tokens per minute'}
  end
  redis.call('INCR', rk)
  redis.call('EXPIRE', rk, 120)
  return {0, 0, ''}
elseif op == 'spend' then
  local tokens, units = tonumber(ARGV[4]), tonumber(ARGV[5])
  if tokens > 0 then
    redis.call('INCRBY', tk, tokens)
    redis.call('EXPIRE', tk, 120)
  end
  if units > 0 and period ~= '' then
    redis.call('INCRBY', bk, units)
    redis.call('EXPIRE', bk, ttl)
  end
  return 0
elseif op == 'spent' then
  return tonumber(redis.call('GET', bk) or '0')
elseif op == 'reset' then
  redis.call('DEL', bk)
  return 0
end
return redis.error_reply('unknown op ' .. tostring(op))
