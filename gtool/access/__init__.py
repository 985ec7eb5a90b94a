"""Access operations on a Grafana (inventory, role changes, provisioning) and their audit log."""
