"""The forms engine: versioned form definitions as data, a field-type registry, safe formulas, validation,
defaults and computed fields, nomenclatures, and the rulesets a campaign pins. No Flask here.

Public surface: :mod:`forms.engine` (generate_defaults, clean, validate, compute), :mod:`forms.definitions`
(Definition, load/parse), :mod:`forms.operations` (database writes: definitions, rulesets, nomenclatures,
sync_builtin), :mod:`forms.nomenclatures` (choices).
"""
