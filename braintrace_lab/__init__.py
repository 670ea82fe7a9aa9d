"""braintrace_lab: online learning in recurrent and spiking networks."""
from .ops import conv, element_wise, lora_matmul, matmul, sparse_matmul

__version__ = '0.1.0'
