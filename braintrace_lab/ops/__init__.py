"""ETP ops: trainable operations the eligibility-trace compiler can see in a jaxpr."""
from ._primitive import OpSpec, etp_op_p, is_etp_eqn
from .conv import conv
from .dense import lora_matmul, matmul
from .elementwise import element_wise
from .matmul_forms import einsum, embedding
from .sparse import sparse_matmul

__all__ = ['matmul', 'lora_matmul', 'conv', 'sparse_matmul', 'element_wise', 'einsum', 'embedding',
           'OpSpec', 'etp_op_p', 'is_etp_eqn']
