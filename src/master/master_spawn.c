/*
 * master_spawn.c - (to be written)
 */
