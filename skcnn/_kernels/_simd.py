"""Sums of absolute differences of uint8 rows with x86's ``psadbw`` instruction.

``psadbw`` takes two vectors of bytes and adds ``|a_i - b_i|`` over each group
of eight, giving 64-bit partial sums: 32 byte pairs per AVX2 instruction
(``vpsadbw ymm``), 16 per SSE2 one. LLVM does not emit it from a plain numba
loop over uint8 (it widens the bytes and runs at a fraction of the speed), so
:func:`sad_tile` writes the LLVM IR itself, as a numba ``@intrinsic``: one loop
over the rows in 32-byte steps (16-byte steps when the compilation target lacks
AVX2), each step loading every row of a register tile once and issuing one
``psadbw`` per (query, training row) pair.

The choice between AVX2 and SSE2 is made when numba compiles, from the features
of its target machine; numba's cache is keyed by those features, so a cached
kernel never runs on a CPU without them. Other architectures have no
``psadbw``: :data:`HAS_SAD` is False there and callers use their float32
kernels instead.
"""

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

HAS_SAD = platform.machine().lower() in {"x86_64", "amd64"}
"""Whether this machine's CPU has ``psadbw`` (every x86-64 CPU does)."""

_I64 = ir.IntType(64)


def _psadbw(builder, width):
    """The LLVM intrinsic ``psadbw`` on ``width`` bytes, and its vector types."""
    bytes_type = ir.VectorType(ir.IntType(8), width)
    sums_type = ir.VectorType(_I64, width // 8)
    name = "llvm.x86.avx2.psad.bw" if width == 32 else "llvm.x86.sse2.psad.bw"
    function_type = ir.FunctionType(sums_type, [bytes_type, bytes_type])
    return cgutils.get_or_insert_function(builder.module, function_type, name)


@intrinsic
def sad_tile(typingctx, queries, rows):
    """``sum_k |q[k] - t[k]|`` for every query ``q`` and row ``t`` of a tile.

    ``queries`` and ``rows`` are tuples of 1-D C-contiguous uint8 arrays, all as
    long as the first query (unchecked); either may be read-only. Returns a
    tuple of int64, query-major (``len(queries) * len(rows)`` sums). Only the
    first ``n - n % 16`` bytes are summed; the caller adds the last few.
    """
    if not (_is_byte_rows(queries) and _is_byte_rows(rows)):
        return None
    n_queries, n_rows = len(queries), len(rows)
    result_type = types.UniTuple(types.int64, n_queries * n_rows)

    def codegen(context, builder, signature, args):
        arrays = []  # each tuple with its own array type (read-only or not)
        for tuple_type, values in zip(signature.args, args, strict=True):
            make = context.make_array(tuple_type.dtype)
            for value in cgutils.unpack_tuple(builder, values, len(tuple_type)):
                arrays.append(make(context, builder, value))
        pointers = [array.data for array in arrays]
        n = cgutils.unpack_tuple(builder, arrays[0].shape, 1)[0]
        pairs = [(q, n_queries + r) for q in range(n_queries) for r in range(n_rows)]
        totals = [cgutils.alloca_once_value(builder, _I64(0)) for _ in pairs]
        if "+avx2" in context.codegen()._tm_features:
            n_wide = builder.udiv(n, n.type(32))
            _add_steps(builder, pointers, pairs, totals, 32, n.type(0), n_wide)
            start = builder.mul(n_wide, n.type(32))
            n_narrow = builder.udiv(builder.urem(n, n.type(32)), n.type(16))
        else:
            start, n_narrow = n.type(0), builder.udiv(n, n.type(16))
        _add_steps(builder, pointers, pairs, totals, 16, start, n_narrow)
        sums = [builder.load(total) for total in totals]
        return context.make_tuple(builder, result_type, sums)

    return result_type(queries, rows), codegen


def _is_byte_rows(tuple_type) -> bool:
    """Whether ``tuple_type`` is a tuple of 1-D C-contiguous uint8 arrays.

    Writable and read-only arrays are both accepted, and the two tuples may
    differ in that: the queries are a buffer skcnn writes, while the training
    rows may be a read-only memory map.
    """
    return (
        isinstance(tuple_type, types.UniTuple)
        and isinstance(tuple_type.dtype, types.Array)
        and tuple_type.dtype.dtype == types.uint8
        and tuple_type.dtype.ndim == 1
        and tuple_type.dtype.layout == "C"
    )


def _add_steps(builder, pointers, pairs, totals, width, start, count):
    """Emit a loop of ``count`` steps of ``width`` bytes from byte ``start`` on.

    Each step loads ``width`` bytes of every row once, then adds one ``psadbw``
    per pair ``(a, b)`` of rows into that pair's vector of partial sums; after
    the loop the lanes are added into ``totals`` (int64 allocas, one per pair).
    """
    psadbw = _psadbw(builder, width)
    bytes_ptr = ir.VectorType(ir.IntType(8), width).as_pointer()
    zero = ir.Constant(psadbw.function_type.return_type, None)
    partial = [cgutils.alloca_once_value(builder, zero) for _ in pairs]
    with cgutils.for_range(builder, count) as loop:
        offset = builder.add(start, builder.mul(loop.index, start.type(width)))
        addresses = [builder.gep(p, [offset]) for p in pointers]
        addresses = [builder.bitcast(a, bytes_ptr) for a in addresses]
        rows = [builder.load(address, align=1) for address in addresses]
        for (a, b), acc in zip(pairs, partial, strict=True):
            sad = builder.call(psadbw, [rows[a], rows[b]])
            builder.store(builder.add(builder.load(acc), sad), acc)
    for acc, total in zip(partial, totals, strict=True):
        vector, value = builder.load(acc), builder.load(total)
        for lane in range(width // 8):
            value = builder.add(value, builder.extract_element(vector, _I64(lane)))
        builder.store(value, total)
