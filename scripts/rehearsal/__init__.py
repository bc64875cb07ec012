"""The platform's own chain, rehearsed locally from what the synthesized templates say.

Every hand-off reads its prefixes, arguments, content types and command lines from the Dev
assembly (synthesized in-process, no AWS call), so a mismatch between two parts fails here.
"""
