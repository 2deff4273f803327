/*
 * test_qfile.c - (to be written)
 */
int main(void) { return 0; }
