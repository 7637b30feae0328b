"""The tenant tree (ministry → inspectorates → schools → units), classes, users, memberships and the policy."""
