"""A stand-in for the few parts of PyTorch a generated loader (NAME_torch.py) touches, so that CI
(no GPU, no torch) can run the loaders' Python: tensors are shapes, dtypes, devices, contiguity
and a fake data pointer; nothing is computed. Used by tests/cuda/torch-loader.test.ts."""
import contextlib
import itertools

_ptrs = itertools.count(0x10000, 0x1000)


class dtype:
    def __init__(self, name, floating):
        self.name, self.is_floating_point = name, floating

    def __repr__(self):
        return 'torch.' + self.name


float32 = dtype('float32', True)
float64 = dtype('float64', True)
float16 = dtype('float16', True)
bfloat16 = dtype('bfloat16', True)
int32 = dtype('int32', False)
int64 = dtype('int64', False)
uint8 = dtype('uint8', False)
bool = dtype('bool', False)  # noqa: A001 - torch's name


class Size(tuple):
    pass


class device:
    def __init__(self, type, index=None):  # noqa: A002 - torch's name
        if isinstance(type, device):
            type, index = type.type, type.index
        elif ':' in type:
            type, index = type.split(':')[0], int(type.split(':')[1])
        self.type, self.index = type, index

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return '{}:{}'.format(self.type, self.index) if self.index is not None else self.type


class Tensor:
    def __init__(self, shape, dtype=float32, device='cuda:0', contiguous=True, values=None):
        self.shape = Size(shape)
        self.dtype = dtype
        self.device = globals()['device'](device)
        self._contiguous = contiguous
        self._ptr = next(_ptrs)
        self._values = values

    def dim(self):
        return len(self.shape)

    def data_ptr(self):
        return self._ptr

    def is_contiguous(self):
        return self._contiguous

    def contiguous(self):
        return self if self._contiguous else Tensor(self.shape, self.dtype, self.device, True, self._values)

    def to(self, dtype=None, device=None):
        if isinstance(dtype, globals()['device']) or isinstance(dtype, str):
            dtype, device = None, dtype
        same = (dtype is None or dtype is self.dtype) and (device is None or globals()['device'](device) == self.device)
        return self if same else Tensor(self.shape, dtype or self.dtype, device or self.device, self._contiguous, self._values)

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return False

    def get_device(self):
        return self.device.index if self.device.type == 'cuda' else -1

    def tolist(self):
        return list(self._values)


def empty(shape, dtype=float32, device='cuda:0'):
    return Tensor(shape if isinstance(shape, (tuple, list)) else (shape,), dtype, device)


class _Props:
    name = 'fake GPU'
    shared_memory_per_block_optin = 232448


class _Stream:
    cuda_stream = 7


class cuda:  # noqa: N801 - a module in torch
    @staticmethod
    def current_device():
        return 0

    @staticmethod
    def device(d):
        return contextlib.nullcontext()

    @staticmethod
    def current_stream(d=None):
        return _Stream()

    @staticmethod
    def get_device_properties(d):
        return _Props()


class _C:  # noqa: N801 - a module in torch
    @staticmethod
    def _cuda_getCurrentRawStream(index):  # noqa: N802 - torch's name
        return 7

    @staticmethod
    def _cuda_getDevice():  # noqa: N802 - torch's name
        return 0
