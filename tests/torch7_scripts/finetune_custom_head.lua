-- A SoundNet fine-tune with a head of its own, made in Torch7 as users did: the body up to pool5 (module 18)
-- of a SoundNet8, then View + Dropout + Linear + ReLU + Linear(classes) + LogSoftMax, a few SGD steps on
-- random 5 s clips, evaluate(), saved after clearState(). Also writes {input, output} in evaluate() mode.
require 'torch'
if torch.setheaptracking then torch.setheaptracking(false) end
require 'nn'

local cmd = torch.CmdLine()
cmd:option('-base', '', 'a SoundNet8 .t7')
cmd:option('-out', '', 'the fine-tuned model to write')
cmd:option('-io', '', 'its input and evaluate() output')
cmd:option('-samples', 110250, 'samples per clip (5 s at 22050 Hz, the fine-tuning crop)')
cmd:option('-classes', 5, 'classes of the new head')
cmd:option('-upto', 18, 'last body module kept (18 = pool5)')
local opt = cmd:parse(arg)

torch.setdefaulttensortype('torch.FloatTensor')
torch.setnumthreads(1)
torch.manualSeed(7)

local base = torch.load(opt.base)
local net = nn.Sequential()
for i = 1, opt.upto do net:add(base.modules[i]) end
net:evaluate()
local features = net:forward(torch.randn(1, 1, opt.samples, 1)):nElement()
net:add(nn.View(-1):setNumInputDims(3))
net:add(nn.Dropout(0.5))
net:add(nn.Linear(features, 32))
net:add(nn.ReLU(true))
net:add(nn.Linear(32, opt.classes))
net:add(nn.LogSoftMax())

local criterion = nn.ClassNLLCriterion()
local params, grads = net:getParameters()
net:training()
for step = 1, 3 do
  local x = torch.randn(4, 1, opt.samples, 1):mul(40)
  local y = torch.LongTensor(4):random(1, opt.classes)
  grads:zero()
  criterion:forward(net:forward(x), y)
  net:backward(x, criterion:backward(net.output, y))
  params:add(-0.01, grads)
end

net:evaluate()
local x = torch.randn(2, 1, opt.samples, 1):mul(40)
local output = net:forward(x):clone()
torch.save(opt.out, net:clearState())
torch.save(opt.io, { input = x, output = output })
print(string.format('fine-tuned %d modules, %d parameters', #net.modules, params:nElement()))
