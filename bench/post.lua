-- wrk script: method, bodies and key come from the environment set by bench_http.py.
-- WRK_BODY_FILE holds one JSON body per line; requests cycle through them.
local method = os.getenv("WRK_METHOD") or "GET"
local key = os.getenv("WRK_API_KEY")
local headers = {}
if key then headers["Authorization"] = "Bearer " .. key end
local bodies = {}
local body_file = os.getenv("WRK_BODY_FILE")
if body_file then
  headers["Content-Type"] = "application/json"
  for line in io.lines(body_file) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
end
local i = 0

request = function()
  if #bodies == 0 then
    return wrk.format(method, nil, headers, nil)
  end
  i = i % #bodies + 1
  return wrk.format(method, nil, headers, bodies[i])
end
