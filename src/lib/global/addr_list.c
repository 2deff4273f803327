/*
 * addr_list.c - (to be written)
 */
