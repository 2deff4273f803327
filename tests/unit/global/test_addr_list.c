/*
 * test_addr_list.c - (to be written)
 */
int main(void) { return 0; }
