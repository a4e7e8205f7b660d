"""Typed result records, each the one owner of its fields: built by the producers, written to and
read back from results.json by the same class (Polygraphy's comparator/struct.py is the model).
`RunRecord` is one results.json; `VariantRow` one variant's entry in it."""
