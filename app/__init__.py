"""Heard: hear from children, young people and parents, safely."""
