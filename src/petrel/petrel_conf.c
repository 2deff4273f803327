/*
 * petrel_conf.c - (to be written)
 */
