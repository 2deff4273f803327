/*
 * master_ent.c - (to be written)
 */
