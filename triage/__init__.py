"""triage: the caseworker's offline tool for sealed evacuation requests.

What it does
------------
On an air-gapped laptop, ``triage`` creates the caseworker's key (``keygen``), imports the signed
export bundle the operator carries over on a USB stick (``import``), opens each sealed request in
memory and ranks it by a transparent policy (``list``, ``show``; see docs/POLICY.md), keeps the
caseworkers' status and notes (``set``), and signs an acknowledgement (``ack``) so the server can
securely forget what this laptop now holds.

What it never does
------------------
It never writes a decrypted request anywhere: the case store keeps envelopes exactly as the server
sealed them, and statuses, notes and settings sealed under a store key that only the caseworkers'
own keys unwrap. It never trusts a bundle signed by a key other than the pinned server key, never
imports part of a bundle, never acknowledges an envelope it could not open, and never needs the
network, Flask or anything from the server package: only PyNaCl, click and rich.
"""
