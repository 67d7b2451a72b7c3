"""How one message travels out: create, offer, claim (through the gate), deliver, record,
reconcile; and switching sending off and on (docs/architecture.md, "The send route").

Each module owns one step; import from the module that owns a function, not from here.
"""
