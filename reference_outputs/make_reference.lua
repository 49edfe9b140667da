-- make_reference.lua: dump the activations of a SoundNet .t7 so that `soundnet verify` can check a port.
--
-- Run it with your own Torch7 on your own checkpoint:
--   th reference_outputs/make_reference.lua -model soundnet8_final.t7 -out refs_soundnet8.t7 -audio clip.mp3
--   th reference_outputs/make_reference.lua -model soundnet8_final.t7 -out refs_soundnet8.t7 -raw wave.f32
--   th reference_outputs/make_reference.lua -model soundnet8_final.t7 -out refs_soundnet8.t7   (generated noise)
-- then, with soundnet-t7:
--   soundnet verify soundnet8.safetensors --reference refs_soundnet8.t7
--
-- Generic mode, for any nn model (not only SoundNet): give the input as a .t7 file holding a tensor, a
-- table of tensors, or a table with an `input` field (as the zoo's *_io.t7 files):
--   th reference_outputs/make_reference.lua -model net.t7 -input input.t7 -out refs_net.t7
-- It writes { inputs = { input = X }, outputs = { input = { [i] = output of top-level module i (when the
-- root is an nn.Sequential), final = net:forward(X) } }, meta = { mode = 'generic', ... } }.
--
-- Layout written (what soundnet verify reads; the same as the reference files of this project):
--   { inputs  = { clip = 1x1xNx1, pred10 = 1x1xNx1 },
--     outputs = { clip = { [i] = output of top-level module i for every module up to the heads
--                          (the heads index holds {objects, scenes}), final = net:forward (only when the
--                          input gives exactly 4 time steps, which modules 26-28 assume) },
--                 pred10 = { objects, scenes } -- softmax over channels, as extract_predictions.lua },
--     meta = { model = path, mode = 'net:evaluate()', module_typenames = {...} } }
-- Sequences carry `_n` (their length) so that Python's torchfile can read the file too; outputs.clip has
-- no `_n` and, without `final`, is a plain sequence 1..heads (soundnet verify reads both forms).
-- Modules are stepped one at a time exactly as nn.Sequential:updateOutput does, and each output is cloned
-- at once: with ReLU(true) in place, a BN output is recorded before the ReLU overwrites it.

require 'torch'
if torch.setheaptracking then torch.setheaptracking(false) end  -- it can hang this LuaJIT (runtime README)
require 'nn'
pcall(require, 'cunn')
local has_cudnn = pcall(require, 'cudnn')

local cmd = torch.CmdLine()
cmd:option('-model', '', 'SoundNet .t7 file (nn, cunn or cudnn modules)')
cmd:option('-out', 'refs.t7', 'reference file to write')
cmd:option('-audio', '', 'audio file, read as extract_feat.lua does (needs lua---audio)')
cmd:option('-raw', '', 'raw little-endian float32 samples, already scaled to [-256, 256]')
cmd:option('-seconds', 20, 'length of the generated input when neither -audio nor -raw is given')
cmd:option('-seed', 20, 'seed of the generated input')
cmd:option('-threads', 1, 'torch.setnumthreads (set OPENBLAS_NUM_THREADS yourself)')
cmd:option('-input', '', 'generic mode: a .t7 file holding the input (tensor, table, or a table with .input)')
local opt = cmd:parse(arg)
assert(opt.model ~= '', 'give -model FILE')

torch.setdefaulttensortype('torch.FloatTensor')
torch.setnumthreads(opt.threads)

local net = torch.load(opt.model)
if has_cudnn then net = cudnn.convert(net, nn) end  -- CPU nn semantics for every layer
net = net:float()
net:evaluate()

local function clone_output(output)
  if torch.isTensor(output) then return output:clone() end
  local copy = { _n = #output }
  for k = 1, #output do copy[k] = clone_output(output[k]) end
  return copy
end

if opt.input ~= '' then
  local x = torch.load(opt.input)
  if type(x) == 'table' and x.input ~= nil then x = x.input end
  local outputs = {}
  local typenames = {}
  if torch.typename(net) == 'nn.Sequential' then  -- in-place modules may write over x: run on copies
    local h = clone_output(x)
    for i = 1, #net.modules do
      typenames[i] = torch.typename(net.modules[i])
      h = net.modules[i]:updateOutput(h)
      outputs[i] = clone_output(h)
    end
  end
  typenames._n = #typenames
  outputs.final = clone_output(net:forward(clone_output(x)))
  torch.save(opt.out, { inputs = { input = x }, outputs = { input = outputs },
                        meta = { model = opt.model, mode = 'generic', root = torch.typename(net),
                                 module_typenames = typenames } })
  print(string.format('wrote %s: %d top-level module outputs and the final output', opt.out, #outputs))
  os.exit(0)
end

local function input_wave()
  if opt.audio ~= '' then
    require 'audio'
    local sound = audio.load(opt.audio)                       -- N x C, sox int32 values
    return sound:select(2, 1):clone():mul(2^-23):view(1, 1, -1, 1)
  elseif opt.raw ~= '' then
    local file = torch.DiskFile(opt.raw, 'r'):binary()
    file:seekEnd()
    local bytes = file:position() - 1
    file:seek(1)
    local samples = torch.FloatTensor(file:readFloat(bytes / 4))
    file:close()
    return samples:view(1, 1, -1, 1)
  end
  torch.manualSeed(opt.seed)
  local n = math.floor(opt.seconds * 22050)
  return torch.randn(n):mul(40):clamp(-256, 256):view(1, 1, -1, 1)
end


local x = input_wave()
local outputs = {}
local typenames = { _n = #net.modules }
local head_index
local h = x
for i = 1, #net.modules do
  local module = net.modules[i]
  typenames[i] = torch.typename(module)
  h = module:updateOutput(h)
  outputs[i] = clone_output(h)
  if torch.typename(module) == 'nn.ConcatTable' or (i == #net.modules - 1 and torch.typename(net.modules[i + 1]) == 'nn.View') then
    head_index = i
    break
  end
end
assert(head_index, 'no SoundNet head found: for any other network give the input with -input')

local refs = { inputs = { clip = x }, outputs = { clip = outputs },
               meta = { model = opt.model, mode = 'net:evaluate()', module_typenames = typenames,
                        head_index = head_index } }

local heads = outputs[head_index]
if type(heads) == 'table' then
  if heads[1]:size(3) == 4 then
    refs.outputs.clip.final = clone_output(net:forward(x))
  end
  local softmax = nn.SpatialSoftMax():float()
  refs.inputs.pred10 = x
  refs.outputs.pred10 = { softmax:forward(heads[1]):clone(), softmax:forward(heads[2]):clone(), _n = 2 }
end

torch.save(opt.out, refs)
print(string.format('wrote %s: %d module outputs (heads at %d), input %d samples',
                    opt.out, head_index, head_index, x:size(3)))
