"""The LAPACK and BLAS routines of a Gaussian's per-row posteriors, called without Python's global interpreter lock,
so that threads sharing the rows run at once.

SciPy's own wrappers (``scipy.linalg.lapack``, ``cho_factor``) hold the lock for the whole factorisation: two
threads factorising 1,000 × 1,000 blocks on two cores took as long as one
(``benchmarks/results/lapack-threads.json``). The same routines of the same library are reached here through the
function pointers SciPy publishes for Cython (``scipy.linalg.cython_lapack``, ``cython_blas``), called by
:mod:`ctypes`, which releases the lock during a foreign call. The arithmetic is SciPy's own, so results are
identical to its wrappers' to the bit (``tests/test_lapack.py``).

Every matrix is float64 in Fortran (column-major) order (the factor and the triangular inverse also take float32,
in single precision); each function works on a copy unless told it may overwrite, and the factor and the inverse
return LAPACK's ``info`` (0: success; > 0: not positive definite, or singular).
"""

from __future__ import annotations

import ctypes

import numpy as np
from scipy.linalg import cython_blas, cython_lapack

_INT = ctypes.POINTER(ctypes.c_int)
_CHAR = ctypes.c_char_p
_PTR = ctypes.c_void_p


_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


def _routine(name: str, *argtypes, library=cython_lapack):
    """LAPACK's (or BLAS's) ``name`` as a ctypes function (``CFUNCTYPE``: the lock is released while it runs)."""
    capsule = library.__pyx_capi__[name]
    return ctypes.CFUNCTYPE(None, *argtypes)(_capsule_pointer(capsule, _capsule_name(capsule)))


def _by_dtype(name: str, *argtypes) -> dict:
    """LAPACK's double- and single-precision ``name`` (``d…``, ``s…``), by the dtype each takes."""
    return {np.dtype(t): _routine(p + name, *argtypes) for t, p in ((np.float64, "d"), (np.float32, "s"))}


# uplo, n, a, lda, info; in double and single precision (the spread of a Gaussian's rows: posterior.dense_spread)
_potrf = _by_dtype("potrf", _CHAR, _INT, _PTR, _INT, _INT)
_potrs = _routine("dpotrs", _CHAR, _INT, _INT, _PTR, _INT, _PTR, _INT, _INT)  # uplo, n, nrhs, a, lda, b, ldb, info
_trtri = _by_dtype("trtri", _CHAR, _CHAR, _INT, _PTR, _INT, _INT)  # uplo, diag, n, a, lda, info
_DOUBLE = ctypes.POINTER(ctypes.c_double)
# side, uplo, transa, diag, m, n, alpha, a, lda, b, ldb
_trsm = _routine("dtrsm", _CHAR, _CHAR, _CHAR, _CHAR, _INT, _INT, _DOUBLE, _PTR, _INT, _PTR, _INT,
                 library=cython_blas)
# uplo, trans, n, k, alpha, a, lda, beta, c, ldc
_syrk = _routine("dsyrk", _CHAR, _CHAR, _INT, _INT, _DOUBLE, _PTR, _INT, _DOUBLE, _PTR, _INT, library=cython_blas)


def _fortran(a: np.ndarray, overwrite: bool, single: bool = False) -> np.ndarray:
    """``a`` in Fortran order, float64 (or float32 where ``single`` allows and ``a`` is float32); ``a`` itself
    when it already is and may be overwritten."""
    dtype = np.float32 if single and a.dtype == np.float32 else np.float64
    if overwrite and a.dtype == dtype and a.flags.f_contiguous and a.flags.writeable:
        return a
    return np.array(a, dtype=dtype, order="F")


def _check_factor(c: np.ndarray, routine: str) -> None:
    """Refuse a factor that ``routine`` would misread: it takes ``c``'s memory as it is, float64 in Fortran order."""
    if not c.flags.f_contiguous or c.dtype != np.float64:
        raise ValueError(f"{routine} needs a float64 factor in Fortran order, as potrf returns it")


def _uplo(lower: bool) -> bytes:
    return b"L" if lower else b"U"


def potrf(a: np.ndarray, lower: bool = False, overwrite: bool = False) -> tuple[np.ndarray, int]:
    """The Cholesky factor of the symmetric ``a`` in its ``lower`` (else upper) triangle; the other triangle keeps
    ``a``'s values, as ``scipy.linalg.cho_factor`` leaves it. A float32 ``a`` is factorised in single precision
    (``spotrf``)."""
    c = _fortran(a, overwrite, single=True)
    n, info = ctypes.c_int(c.shape[0]), ctypes.c_int(0)
    _potrf[c.dtype](_uplo(lower), ctypes.byref(n), c.ctypes.data, ctypes.byref(n), ctypes.byref(info))
    return c, info.value


def potrs(c: np.ndarray, b: np.ndarray, lower: bool = False) -> np.ndarray:
    """``A⁻¹ b`` from the Cholesky factor ``c`` of ``A`` (:func:`potrf`), as ``scipy.linalg.cho_solve``."""
    _check_factor(c, "potrs")
    x = np.array(b, dtype=np.float64, order="F")
    n, nrhs = ctypes.c_int(c.shape[0]), ctypes.c_int(1 if x.ndim == 1 else x.shape[1])
    info = ctypes.c_int(0)
    _potrs(_uplo(lower), ctypes.byref(n), ctypes.byref(nrhs), c.ctypes.data, ctypes.byref(n), x.ctypes.data,
           ctypes.byref(n), ctypes.byref(info))
    if info.value != 0:  # only a malformed argument: a factor has no other failure here
        raise ValueError(f"LAPACK dpotrs rejected argument {-info.value}")
    return x


def trtri(c: np.ndarray, lower: bool = False, overwrite: bool = False) -> tuple[np.ndarray, int]:
    """The inverse of the triangular ``c`` (its ``lower``, else upper, triangle; the other is left as it is), in
    single precision (``strtri``) when ``c`` is float32."""
    t = _fortran(c, overwrite, single=True)
    n, info = ctypes.c_int(t.shape[0]), ctypes.c_int(0)
    _trtri[t.dtype](_uplo(lower), b"N", ctypes.byref(n), t.ctypes.data, ctypes.byref(n), ctypes.byref(info))
    return t, info.value


def trsm(c: np.ndarray, b: np.ndarray, lower: bool = False, transpose: bool = False,
         overwrite: bool = False) -> np.ndarray:
    """``T⁻¹ b`` (``T⁻ᵀ b`` with ``transpose``) for the triangular ``c``'s ``lower`` (else upper) triangle, as
    ``scipy.linalg.solve_triangular`` with several right-hand sides; ``b`` (rows × columns) is solved in place when
    it is float64 in Fortran order and may be overwritten."""
    _check_factor(c, "trsm")
    x = _fortran(b, overwrite)
    if x.ndim != 2 or x.shape[0] != c.shape[0]:
        raise ValueError(f"trsm solves a {c.shape[0]}-row triangle against rows × columns, got {x.shape}")
    m, n = ctypes.c_int(x.shape[0]), ctypes.c_int(x.shape[1])
    one = ctypes.c_double(1.0)
    _trsm(b"L", _uplo(lower), b"T" if transpose else b"N", b"N", ctypes.byref(m), ctypes.byref(n),
          ctypes.byref(one), c.ctypes.data, ctypes.byref(m), x.ctypes.data, ctypes.byref(m))
    return x


def gram(a: np.ndarray) -> np.ndarray:
    """``aᵀ a`` in its upper triangle (the lower one zero), as ``scipy.linalg.blas.dsyrk(1.0, a, trans=1)``."""
    a = _fortran(a, True)
    rows, cols = a.shape
    out = np.zeros((cols, cols), dtype=np.float64, order="F")
    n, k, lda = ctypes.c_int(cols), ctypes.c_int(rows), ctypes.c_int(max(rows, 1))
    one, zero = ctypes.c_double(1.0), ctypes.c_double(0.0)
    _syrk(b"U", b"T", ctypes.byref(n), ctypes.byref(k), ctypes.byref(one), a.ctypes.data, ctypes.byref(lda),
          ctypes.byref(zero), out.ctypes.data, ctypes.byref(n))
    return out
