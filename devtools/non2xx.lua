-- wrk's own "Non-2xx or 3xx responses" counts only statuses from 400 up, so a
-- redirect would pass as a success; this counts every status outside 200-299.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non_2xx = 0
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non_2xx = non_2xx + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("non_2xx")
    end
    io.write(string.format("Non-2xx responses: %d\n", total))
end
