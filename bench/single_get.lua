-- wrk script: GET random objects by id from IDS_FILE, with TAXII headers and credentials from the environment.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local path = os.getenv("OBJECTS_PATH")
local headers = { ["Accept"] = "application/taxii+json;version=2.1", ["Authorization"] = os.getenv("AUTH") }
request = function()
  return wrk.format("GET", path .. ids[math.random(#ids)] .. "/", headers)
end
