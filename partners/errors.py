"""Domain errors raised by partners' services."""


class PartnersError(Exception):
    """A request about people or organisations that cannot be carried out; the message says why."""
