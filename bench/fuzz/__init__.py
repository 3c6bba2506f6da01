"""Structure-aware fuzz frames for Grover's wire protocol, derived from the
catalog, and the oracle that judges what the codec makes of them.

Every request type of :data:`protocol.catalog.REQUEST_TYPES` is read with
``msgspec.inspect.type_info``: field names, whether each is required, its type
and its constraints (``ge``/``le``, ``min_length``/``max_length``,
``pattern``, literals, unions, nested structs). From that one description come

- **valid requests**: every required field, some optional ones, values at and
  between the bounds (biased to the edges), any Unicode text, sometimes the
  keys in another order or a non-canonical msgpack encoding of a value;
- **mutations** of a valid request: a field of the wrong kind, an integer out
  of bounds (2^53, 2^63, 2^64 - 1, -2^63, bound ± 1), strings and lists one
  past their limit or short of their minimum, a pattern broken, a field
  missing or extra, an unknown ``type``, non-string or duplicate keys,
  invalid UTF-8, deep nesting, msgpack ext values, headers that claim
  gigabytes, truncation, trailing bytes, byte-level damage, and plain random
  bytes or random msgpack values.

A field type the generator does not understand raises :class:`Unsupported`
(and so does a ``pattern`` it cannot satisfy), so a new kind of field fails
the fuzz test until the fuzzer is taught it, instead of going unfuzzed.

Randomness comes through a :class:`Chooser`: :class:`RandomChooser` (seeded,
fast) drives ``python -m bench.fuzz``; the test suite wraps Hypothesis'
``draw`` in one, so the same generator is a Hypothesis strategy there, with
shrinking and reproducible examples.
"""
