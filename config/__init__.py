"""Configuration: typed settings, plan-schedules (plans/*.yaml) and production calendars."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
PLANS_DIR = CONFIG_DIR / "plans"
CALENDARS_DIR = CONFIG_DIR / "calendars"
TOPICS_DIR = CONFIG_DIR / "topics"  # demo topics per session, loaded into the vault
