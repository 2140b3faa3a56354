"""Signed sports and culture passes: issued on "My Campus ID" for active or grace grants of
``sports`` and ``culture`` resources, verified offline by ``campus-pass`` (docs/connectors.md,
"The sports and culture pass"). ``wire`` encodes and signs, ``issue`` decides who gets which
pass, ``revoked`` lists the passes a verifier must refuse."""
