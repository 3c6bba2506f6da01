"""The marketplace's operations: what requests, webhooks and sweeps do to
orders, payouts and the ledger. The rules themselves (states, fees, postings)
are pure, in :mod:`actors.market`; here they meet the store, PayPal and the
users' sessions. ``views`` makes protocol views, ``changes`` the
compare-and-set writes, ``orders`` and ``payouts`` the operations,
``events`` the webhook events, ``worker`` the background sweep."""
