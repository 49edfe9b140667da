-- Nets for classes and Torch7 behaviours the shared zoo does not reach, saved as the zoo saves its nets:
-- <name>.t7 (evaluate(), clearState()) and <name>_io.t7 = {input, output, per_module}.
require 'torch'
if torch.setheaptracking then torch.setheaptracking(false) end
require 'nn'

local cmd = torch.CmdLine()
cmd:option('-out', '.', 'folder for the nets')
local opt = cmd:parse(arg)
torch.setdefaulttensortype('torch.FloatTensor')
torch.setnumthreads(1)
torch.manualSeed(11)

local function randomise_bn(bn)
  bn.running_mean:normal(0, 0.2)
  bn.running_var:uniform(0.5, 1.5)
end

local nets = {}

-- Volumetric batch norm, average pooling and dropout; Threshold; a 5-D input.
local volumetric = nn.Sequential()
volumetric:add(nn.VolumetricBatchNormalization(3))
volumetric:add(nn.VolumetricAveragePooling(2, 2, 2, 1, 2, 2))
volumetric:add(nn.VolumetricDropout(0.3))
volumetric:add(nn.View(-1):setNumInputDims(4))
volumetric:add(nn.Linear(3 * 3 * 3 * 3, 6))
volumetric:add(nn.Threshold(0.1, -1))
randomise_bn(volumetric.modules[1])
nets.volumetric_extras = { volumetric, torch.randn(2, 3, 4, 6, 6) }

-- Dropout(p, v1=true) scales at test time; max pooling in ceil mode with stride > kernel and no pad keeps
-- a window past the input (Torch7's lowest float), which PyTorch would drop.
local edges = nn.Sequential()
edges:add(nn.Dropout(0.4, true))
edges:add(nn.SpatialConvolutionMM(2, 3, 3, 3, 1, 1, 1, 1))
edges:add(nn.Tanh())
edges:add(nn.SpatialMaxPooling(1, 1, 1, 3):ceil())
nets.dropout_v1_ceil_edge = { edges, torch.randn(2, 2, 5, 7) }

local function clone_output(output)
  if torch.isTensor(output) then return output:clone() end
  local copy = { _n = #output }
  for k = 1, #output do copy[k] = clone_output(output[k]) end
  return copy
end

for name, pair in pairs(nets) do
  local net, input = pair[1], pair[2]
  net:evaluate()
  local per_module, h = { _n = #net.modules }, input:clone()
  for i = 1, #net.modules do
    h = net.modules[i]:updateOutput(h)
    per_module[i] = clone_output(h)
  end
  local output = clone_output(net:forward(input:clone()))
  torch.save(opt.out .. '/' .. name .. '.t7', net:clearState())
  torch.save(opt.out .. '/' .. name .. '_io.t7', { input = input, output = output, per_module = per_module })
end
