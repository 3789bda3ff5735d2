"""Exception management: rules that detect delays, holds and failures on shipments, the exceptions they open
(with owner, history and root cause), their inbox and weekly view. Models belong to the `tracking` app."""
