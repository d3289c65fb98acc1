"""Pure domain logic: no Prefect, no database, no network, no clock, no environment."""
