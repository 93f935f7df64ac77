// Main.cpp - Catch2's main for the unit tests (Catch2 v2, as packaged by Debian bookworm).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
