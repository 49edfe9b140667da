-- torch7_server.lua: times Torch7 on request, so that a Python benchmark can interleave it with its own runs.
--
-- Started by benchmarks/side_by_side.py (luajit, env.sh sourced, OMP/OpenBLAS threads fixed per process).
-- Reads one command per line on stdin and answers one line on stdout: "ok <wall seconds> <CPU seconds>"
-- (CPU = user + system of all threads) or "error <message>".
--   forward B   net:evaluate(), one net:forward of B random 20 s clips (B x 1 x 441000 x 1)
--   train B     net:training(), one step of main_train.lua on B clips: forward, 8 DistKLDiv terms
--               (x 250 / 8), backward, optim.adam (lr 0.001, beta1 0.9)
--   load PATH   torch.load(PATH) of a .t7 file
-- The net is full-width SoundNet8 built as main_train.lua builds it (nn modules, CPU), random weights.

require 'torch'
require 'nn'
require 'optim'

torch.setheaptracking(false)
torch.setdefaulttensortype('torch.FloatTensor')
torch.setnumthreads(tonumber(arg[1]) or 1)
torch.manualSeed(1)

local SAMPLES = 441000
local net = nn.Sequential()
local widths = {16, 32, 64, 128, 256, 512, 1024}
local convs = {{64, 2, 32, 8}, {32, 2, 16, 8}, {16, 2, 8, 0}, {8, 2, 4, 0}, {4, 2, 2, 4}, {4, 2, 2, 0}, {4, 2, 2, 0}}
local inputs = 1
for block, spec in ipairs(convs) do
  local kernel, stride, pad, pool = spec[1], spec[2], spec[3], spec[4]
  net:add(nn.SpatialConvolution(inputs, widths[block], 1, kernel, 1, stride, 0, pad))
  net:add(nn.SpatialBatchNormalization(widths[block]))
  net:add(nn.ReLU(true))
  if pool > 0 then net:add(nn.SpatialMaxPooling(1, pool, 1, pool)) end
  inputs = widths[block]
end
local heads = nn.ConcatTable()
heads:add(nn.SpatialConvolution(1024, 1000, 1, 8, 1, 2, 0, 0))
heads:add(nn.SpatialConvolution(1024, 401, 1, 8, 1, 2, 0, 0))
net:add(heads)
net:add(nn.ParallelTable():add(nn.SplitTable(3)):add(nn.SplitTable(3)))
net:add(nn.FlattenTable())
local per_step = nn.ParallelTable()
for _ = 1, 8 do per_step:add(nn.Sequential():add(nn.Contiguous()):add(nn.LogSoftMax()):add(nn.Squeeze())) end
net:add(per_step)

local criterion = nn.ParallelCriterion(false)
for _ = 1, 8 do criterion:add(nn.DistKLDivCriterion()) end
local parameters, gradients = net:getParameters()
local adam = {learningRate = 0.001, beta1 = 0.9}

local batches = {}
local function clips(count)
  if not batches[count] then batches[count] = torch.randn(count, 1, SAMPLES, 1):mul(40) end
  return batches[count]
end

local function targets(count)
  local labels = {}
  for i = 1, 8 do labels[i] = nn.SoftMax():forward(torch.randn(count, i <= 4 and 1000 or 401):mul(2)):clone() end
  return labels
end

local function train_step(count)
  local input, labels = clips(count), targets(count)
  net:training()
  local function evaluate()
    gradients:zero()
    local output = net:forward(input)
    local loss = criterion:forward(output, labels) / 8 * 250
    local df_do = criterion:backward(output, labels)
    for i = 1, #df_do do df_do[i]:mul(250 / 8) end
    net:backward(input, df_do)
    return loss, gradients
  end
  local start = torch.Timer()
  optim.adam(evaluate, parameters, adam)
  return start:time()
end

local commands = {
  forward = function(count)
    local input = clips(tonumber(count))
    net:evaluate()
    local start = torch.Timer()
    net:forward(input)
    return start:time()
  end,
  train = function(count) return train_step(tonumber(count)) end,
  load = function(path)
    local start = torch.Timer()
    local loaded = torch.load(path)
    local seconds = start:time()
    loaded = nil
    collectgarbage()
    return seconds
  end,
}

io.stdout:setvbuf('line')
print('ready')
for line in io.lines() do
  local name, argument = line:match('^(%S+)%s*(.*)$')
  local command = commands[name or '']
  if not command then
    print('error unknown command: ' .. line)
  else
    local ok, result = pcall(command, argument)
    if ok then
      print(string.format('ok %.6f %.6f', result.real, result.user + result.sys))
    else
      print('error ' .. tostring(result):gsub('\n', ' '))
    end
  end
end
