/*
 * kl-fuzz: the entry point every fuzz target implements.  With
 * -Dfuzzing=true each target links libFuzzer; otherwise it links
 * kl-fuzz-driver.c and runs over its seed corpus plus deterministic
 * mutations of it, as a regression test in the `fuzz` suite.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
